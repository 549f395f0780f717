// An empty file: the target that builds the precompiled header the guide programs share.
