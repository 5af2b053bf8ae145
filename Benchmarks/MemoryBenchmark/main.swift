print("memory benchmark: not yet")
