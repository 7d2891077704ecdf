output "bastion_id" {
  description = "The bastion's security group."
  value       = openstack_networking_secgroup_v2.bastion.id
}

output "nodes_id" {
  description = "Every node's security group."
  value       = openstack_networking_secgroup_v2.nodes.id
}

output "control_plane_id" {
  description = "The control-plane nodes' security group (with nodes_id)."
  value       = openstack_networking_secgroup_v2.control_plane.id
}

output "ingress_rules" {
  description = "What is open, by rule name: group, protocol, ports and source."
  value       = local.rules
}
