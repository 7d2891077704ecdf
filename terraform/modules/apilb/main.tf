# The Kubernetes API behind an Octavia load balancer: TCP 6443 passed
# through to the control-plane nodes (TLS ends at the API servers, whose
# certificates name the VIP), each checked on /readyz, which kubeadm's API
# servers answer without credentials.

resource "openstack_lb_loadbalancer_v2" "api" {
  name          = "${var.name}-api"
  vip_subnet_id = var.subnet_id
}

resource "openstack_lb_listener_v2" "api" {
  name            = "${var.name}-api"
  loadbalancer_id = openstack_lb_loadbalancer_v2.api.id
  protocol        = "TCP"
  protocol_port   = 6443
  allowed_cidrs   = var.allowed_cidrs
  # Watches are long-lived: idle connections stay up for 30 minutes.
  timeout_client_data = 1800000
  timeout_member_data = 1800000
}

resource "openstack_lb_pool_v2" "api" {
  name        = "${var.name}-api"
  listener_id = openstack_lb_listener_v2.api.id
  protocol    = "TCP"
  lb_method   = "LEAST_CONNECTIONS"
}

resource "openstack_lb_monitor_v2" "api" {
  name           = "${var.name}-api"
  pool_id        = openstack_lb_pool_v2.api.id
  type           = "HTTPS"
  url_path       = "/readyz"
  http_method    = "GET"
  expected_codes = "200"
  delay          = 10
  timeout        = 5
  max_retries    = 3
}

resource "openstack_lb_member_v2" "api" {
  for_each = var.members

  name          = each.key
  pool_id       = openstack_lb_pool_v2.api.id
  subnet_id     = var.subnet_id
  address       = each.value
  protocol_port = 6443
}

resource "openstack_networking_floatingip_v2" "api" {
  count = var.public ? 1 : 0

  pool        = var.external_network_name
  description = "${var.name} Kubernetes API"
}

resource "openstack_networking_floatingip_associate_v2" "api" {
  count = var.public ? 1 : 0

  floating_ip = openstack_networking_floatingip_v2.api[0].address
  port_id     = openstack_lb_loadbalancer_v2.api.vip_port_id
}
