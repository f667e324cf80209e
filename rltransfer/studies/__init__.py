"""Built-in study files shipped with the package."""
