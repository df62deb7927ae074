"""The TUI's screens: home (new run), dashboard (training), runs, watch, and small dialogs."""
