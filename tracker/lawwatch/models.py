"""The law watch: what the EU's official sources said about the acts the catalogue tracks."""
