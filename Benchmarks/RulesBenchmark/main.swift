print("rules benchmark: not yet")
