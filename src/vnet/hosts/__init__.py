"""Many hosts: a file that spans several hosts (`hosts:`, `host:`), split into one ordinary
single-host topology per host, with the tunnels between hosts planned here (pure).

`spec` holds the file's host entries, `split` the rules across hosts and the splitting.
"""
