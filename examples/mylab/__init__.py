"""A user's own package, as docs/data.md trains it: a Dataset class (`data.Rings`), a model
factory (`model.make_net`) and a loss (`loss.focal`). Nothing here imports optkit."""
