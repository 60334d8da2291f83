"""`hydra/launcher=local`: submitit's local launcher with one GPU per concurrently running job."""
