"""The suite's tasks: each sub-package holds one LightningModule, one LightningDataModule and its models."""
