# The production cluster's machines on OpenStack: network, security
# groups, nodes and the API load balancer. Ansible (ansible/) turns them
# into a kubeadm cluster from the inventory output.

module "network" {
  source = "../../modules/network"

  name             = var.name
  cidr             = var.cidr
  external_network = var.external_network
  dns_nameservers  = var.dns_nameservers
}

module "security" {
  source = "../../modules/security"

  name        = var.name
  cidr        = var.cidr
  admin_cidrs = var.admin_cidrs
}

module "nodes" {
  source = "../../modules/nodes"

  name                  = var.name
  image                 = var.image
  ssh_user              = var.ssh_user
  ssh_public_key        = var.ssh_public_key
  control_plane_count   = var.control_plane_count
  worker_count          = var.worker_count
  control_plane_flavor  = var.control_plane_flavor
  worker_flavor         = var.worker_flavor
  bastion_flavor        = var.bastion_flavor
  root_volume_size      = var.root_volume_size
  cidr                  = var.cidr
  network_id            = module.network.network_id
  subnet_id             = module.network.subnet_id
  external_network_name = module.network.external_network_name
  security_groups = {
    bastion       = module.security.bastion_id
    nodes         = module.security.nodes_id
    control_plane = module.security.control_plane_id
  }
}

module "apilb" {
  source = "../../modules/apilb"

  name                  = var.name
  subnet_id             = module.network.subnet_id
  members               = module.nodes.control_plane
  allowed_cidrs         = concat(var.admin_cidrs, [var.cidr])
  external_network_name = module.network.external_network_name
  public                = var.public_api
}
