print("scheduling benchmark: not yet")
