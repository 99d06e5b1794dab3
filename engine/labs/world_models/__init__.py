"""World Models (Ha & Schmidhuber 2018): a VAE sees, an MDN-RNN dreams, a linear controller learns inside the dream."""
