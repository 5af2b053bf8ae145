print("syncbridge")
