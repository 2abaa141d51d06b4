name = "mine"
