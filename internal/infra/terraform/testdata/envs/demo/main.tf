# A stand-in environment for the tests of the terraform-exec code path:
# Terraform's built-in terraform_data, no cloud, a local state file.
terraform {
  backend "local" {}
}

variable "cloud" {
  type = string
}

variable "nodes" {
  type = number
}

resource "terraform_data" "node" {
  count = var.nodes
  input = "node-${count.index + 1}"
}

output "inventory" {
  value = {
    cloud = var.cloud
    nodes = terraform_data.node[*].output
  }
}
