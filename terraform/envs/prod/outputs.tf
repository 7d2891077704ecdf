output "inventory" {
  description = "What the Ansible playbooks need (go tool mage infra:inventory writes it as ansible/inventory/<env>/hosts.yml)."
  value = {
    cluster_name = var.name
    ssh_user     = var.ssh_user
    bastion      = module.nodes.bastion
    api = {
      # kubeadm's controlPlaneEndpoint: the VIP, reachable from the nodes.
      endpoint = "${module.apilb.address}:6443"
      # Also in the API servers' certificates, for the admins.
      public_address = module.apilb.public_address
    }
    control_plane = module.nodes.control_plane
    workers       = module.nodes.workers
  }
}

output "open_ports" {
  description = "Every ingress rule of the security groups: group, protocol, ports, source."
  value       = module.security.ingress_rules
}
