variable "name" {
  description = "Prefix of every resource's name."
  type        = string
}

variable "cidr" {
  description = "The cluster subnet: the API load balancer's members see its traffic from here."
  type        = string
}

variable "admin_cidrs" {
  description = "Where SSH to the bastion is allowed from (your office, your VPN)."
  type        = list(string)
}
