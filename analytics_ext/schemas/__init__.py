"""Request and response models (pydantic v2): the one way input is validated and output shaped."""
