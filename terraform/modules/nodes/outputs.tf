output "control_plane" {
  description = "Control-plane nodes: name => private address."
  value       = { for name, n in local.nodes : name => n.address if n.role == "control-plane" }
}

output "workers" {
  description = "Workers: name => private address."
  value       = { for name, n in local.nodes : name => n.address if n.role == "worker" }
}

output "bastion" {
  description = "The bastion: its name, public and private address."
  value = {
    name            = openstack_compute_instance_v2.bastion.name
    address         = openstack_networking_floatingip_v2.bastion.address
    private_address = local.bastion_address
  }
}
