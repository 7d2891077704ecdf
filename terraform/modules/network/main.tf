# One private network for the cluster, routed to the external network for
# egress (packages, images) and floating IPs.

data "openstack_networking_network_v2" "external" {
  name     = var.external_network
  external = true
}

resource "openstack_networking_network_v2" "cluster" {
  name           = "${var.name}-net"
  admin_state_up = true
}

# The machines get fixed addresses from the lower half (module nodes);
# DHCP hands out the upper half to everything else (the router, the load
# balancer's VIP and amphorae).
resource "openstack_networking_subnet_v2" "cluster" {
  name            = "${var.name}-subnet"
  network_id      = openstack_networking_network_v2.cluster.id
  cidr            = var.cidr
  ip_version      = 4
  gateway_ip      = cidrhost(var.cidr, 1)
  dns_nameservers = var.dns_nameservers
  allocation_pool {
    start = cidrhost(var.cidr, 128)
    end   = cidrhost(var.cidr, -2)
  }
}

resource "openstack_networking_router_v2" "cluster" {
  name                = "${var.name}-router"
  admin_state_up      = true
  external_network_id = data.openstack_networking_network_v2.external.id
}

resource "openstack_networking_router_interface_v2" "cluster" {
  router_id = openstack_networking_router_v2.cluster.id
  subnet_id = openstack_networking_subnet_v2.cluster.id
}
