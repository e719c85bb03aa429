"""The command line's room: one module per ``pose-appliance`` subcommand (parse arguments, call the library,
print). :mod:`pose_appliance.cli` dispatches to them; no stage package imports from here."""
