variable "name" {
  description = "Prefix of every resource's name."
  type        = string
}

variable "cidr" {
  description = "The cluster network's IPv4 range (nodes, the API load balancer)."
  type        = string
  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) <= 24
    error_message = "cidr must be an IPv4 CIDR of /24 or larger."
  }
}

variable "external_network" {
  description = "Name of the provider network that routes to the internet (floating IPs come from it)."
  type        = string
}

variable "dns_nameservers" {
  description = "Resolvers handed to the nodes by DHCP."
  type        = list(string)
}
