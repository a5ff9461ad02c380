"""What crosses kinds: bridge port VLANs, static FDB entries, traffic shaping. Each module is
a feature's model (its fields in the file), its plan (Actions from desired and observed state)
and its checks; none reaches the kernel. Kind files and the planner import them."""
