output "address" {
  description = "The VIP on the cluster subnet: kubeadm's controlPlaneEndpoint."
  value       = openstack_lb_loadbalancer_v2.api.vip_address
}

output "public_address" {
  description = "The VIP's floating IP, or null."
  value       = var.public ? openstack_networking_floatingip_v2.api[0].address : null
}
