output "network_id" {
  description = "The cluster network."
  value       = openstack_networking_network_v2.cluster.id
}

output "subnet_id" {
  description = "The cluster subnet (nodes' ports, the load balancer's VIP)."
  # Through the router interface: nothing on the subnet is reachable
  # before the router is attached.
  value = openstack_networking_router_interface_v2.cluster.subnet_id
}

output "cidr" {
  description = "The cluster subnet's range."
  value       = openstack_networking_subnet_v2.cluster.cidr
}

output "external_network_id" {
  description = "The external network floating IPs come from."
  value       = data.openstack_networking_network_v2.external.id
}

output "external_network_name" {
  description = "Its name (floating IP pools are named after it)."
  value       = data.openstack_networking_network_v2.external.name
}
