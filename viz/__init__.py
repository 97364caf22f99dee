"""The visual workbench: the gallery of rendered graphs and the interactive BPTT explorer."""
