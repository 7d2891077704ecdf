variable "name" {
  description = "Prefix of every resource's name."
  type        = string
}

variable "subnet_id" {
  description = "The cluster subnet: the VIP and the members are on it."
  type        = string
}

variable "members" {
  description = "The control-plane nodes: name => private address."
  type        = map(string)
}

variable "allowed_cidrs" {
  description = "Who may reach the API through the load balancer."
  type        = list(string)
}

variable "external_network_name" {
  description = "The pool of the VIP's floating IP."
  type        = string
}

variable "public" {
  description = "Give the API a floating IP (reachable from allowed_cidrs outside the cloud)."
  type        = bool
}
