print("offramp: the command-line tool is being assembled")
