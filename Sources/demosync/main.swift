print("demosync")
