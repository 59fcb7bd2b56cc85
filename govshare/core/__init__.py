"""Framework layer: no business rules and no imports of other govshare apps."""
