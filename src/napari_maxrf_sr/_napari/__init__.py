"""napari side of the plugin: readers, writer, widgets and layer helpers (imports Qt)."""
