variable "cloud" {
  description = "The clouds.yaml entry to use (empty: the OS_* environment variables)."
  type        = string
  default     = ""
}

variable "name" {
  description = "The cluster's name: the prefix of every resource and host name."
  type        = string
  default     = "groundwork-prod"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be a DNS label of 3 to 32 characters: lower-case letters, digits and hyphens."
  }
}

variable "image" {
  description = "The Glance image of every machine (Debian 12 or Ubuntu 24.04)."
  type        = string
}

variable "ssh_user" {
  description = "The image's default user (debian, ubuntu)."
  type        = string
  default     = "debian"
}

variable "ssh_public_key" {
  description = "The admins' SSH public key, OpenSSH format."
  type        = string
  validation {
    condition     = can(regex("^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$", var.ssh_public_key))
    error_message = "ssh_public_key must be one OpenSSH public key line (ssh-ed25519 ..., ecdsa-sha2-... or ssh-rsa ...)."
  }
}

variable "admin_cidrs" {
  description = "Where the admins come from: SSH to the bastion and the API through the load balancer."
  type        = list(string)
  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0)) && !endswith(c, "/0")])
    error_message = "admin_cidrs must list at least one CIDR, and none may be the whole internet (/0)."
  }
}

variable "control_plane_count" {
  description = "Control-plane nodes, each an etcd member: an odd number keeps a quorum through failures (3 survives one, 5 two)."
  type        = number
  default     = 3
  validation {
    condition     = var.control_plane_count >= 1 && var.control_plane_count <= 7 && var.control_plane_count % 2 == 1
    error_message = "control_plane_count must be odd (1, 3, 5 or 7): etcd needs a majority, and an even count adds a member without adding a failure it survives."
  }
}

variable "worker_count" {
  description = "Worker nodes: the prod overlay runs 3 API servers, 2 workers, 2 Kratos, 2 webapps and 3 PostgreSQL instances with anti-affinity."
  type        = number
  default     = 3
  validation {
    condition     = var.worker_count >= 3 && var.worker_count <= 50 && floor(var.worker_count) == var.worker_count
    error_message = "worker_count must be a whole number from 3 (the PostgreSQL cluster's 3 instances each need a node) to 50."
  }
}

variable "control_plane_flavor" {
  description = "Flavor of the control-plane nodes (kubeadm wants 2 vCPUs and 2 GiB at least)."
  type        = string
}

variable "worker_flavor" {
  description = "Flavor of the workers."
  type        = string
}

variable "bastion_flavor" {
  description = "Flavor of the bastion (the smallest will do)."
  type        = string
}

variable "root_volume_size" {
  description = "Boot from volumes of this many GiB; 0 uses the flavors' disks."
  type        = number
  default     = 0
  validation {
    condition     = var.root_volume_size == 0 || var.root_volume_size >= 20
    error_message = "root_volume_size must be 0 (the flavor's disk) or at least 20 GiB."
  }
}

variable "external_network" {
  description = "The external (provider) network: egress and floating IPs."
  type        = string
}

variable "cidr" {
  description = "The cluster subnet. Must not overlap the pod (10.244.0.0/16) or Service (10.96.0.0/12) ranges the Ansible playbooks give kubeadm and Calico."
  type        = string
  default     = "10.20.0.0/24"
  validation {
    # Each range as [first, last] address number; disjoint when one ends
    # before the other starts.
    condition = try(alltrue([
      for r in ["10.244.0.0/16", "10.96.0.0/12"] : (
        sum([for i, o in split(".", cidrhost(var.cidr, 0)) : tonumber(o) * pow(256, 3 - i)]) + pow(2, 32 - tonumber(split("/", var.cidr)[1])) - 1 < sum([for i, o in split(".", cidrhost(r, 0)) : tonumber(o) * pow(256, 3 - i)]) ||
        sum([for i, o in split(".", cidrhost(r, 0)) : tonumber(o) * pow(256, 3 - i)]) + pow(2, 32 - tonumber(split("/", r)[1])) - 1 < sum([for i, o in split(".", cidrhost(var.cidr, 0)) : tonumber(o) * pow(256, 3 - i)])
      )
    ]), false)
    error_message = "cidr must be an IPv4 CIDR outside the pod (10.244.0.0/16) and Service (10.96.0.0/12) ranges."
  }
}

variable "dns_nameservers" {
  description = "Resolvers for the nodes."
  type        = list(string)
  default     = ["9.9.9.9", "1.1.1.1"]
}

variable "public_api" {
  description = "Give the API load balancer a floating IP (reachable from admin_cidrs)."
  type        = bool
  default     = true
}
