name = var.name
