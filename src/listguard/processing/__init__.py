"""Data processing on files outside the registry: address restructuring (RNVP), and the
helpers its commands share (reading any tabular file, mapping its columns)."""
