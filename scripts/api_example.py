"""Drive studies from Python: run the default study with 3 seeds and print each verdict.

Usage: python scripts/api_example.py
"""

from __future__ import annotations

import rltransfer


def main() -> None:
    result = rltransfer.run_study(None, seeds=3, wandb="disabled")
    for method, outcome in result.summary["methods"].items():
        area = outcome["metrics"]["area_ratio"]
        print(f"{method}: {outcome['verdict']}, area ratio {area['mean']} (95% CI {area['ci']})")
    print("final returns of scratch, seed by seed:")
    for seed, curve in result.curves["scratch"].items():
        print(f"  seed {seed}: {curve.return_mean[-1]:.1f}")
    print(f"report: {result.paths['report']}")


if __name__ == "__main__":
    main()
