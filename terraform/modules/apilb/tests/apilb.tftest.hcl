# The API load balancer, against mocks (no cloud).
mock_provider "openstack" {
  mock_resource "openstack_lb_loadbalancer_v2" {
    defaults = {
      vip_address = "10.20.0.200"
      vip_port_id = "vip-port"
    }
  }
}

variables {
  name                  = "t"
  subnet_id             = "subnet"
  members               = { "t-cp-1" = "10.20.0.10", "t-cp-2" = "10.20.0.11", "t-cp-3" = "10.20.0.12" }
  allowed_cidrs         = ["203.0.113.0/24", "10.20.0.0/24"]
  external_network_name = "public"
  public                = true
}

run "api_on_6443" {
  command = apply

  assert {
    condition     = openstack_lb_listener_v2.api.protocol == "TCP" && openstack_lb_listener_v2.api.protocol_port == 6443 && toset(openstack_lb_listener_v2.api.allowed_cidrs) == toset(var.allowed_cidrs)
    error_message = "a TCP listener on 6443 open to allowed_cidrs only"
  }

  assert {
    condition     = length(openstack_lb_member_v2.api) == 3 && alltrue([for m in openstack_lb_member_v2.api : m.protocol_port == 6443])
    error_message = "every control-plane node is a member on 6443"
  }

  assert {
    condition     = openstack_lb_monitor_v2.api.type == "HTTPS" && openstack_lb_monitor_v2.api.url_path == "/readyz"
    error_message = "members are checked on /readyz"
  }

  assert {
    condition     = output.address == "10.20.0.200" && openstack_networking_floatingip_associate_v2.api[0].port_id == "vip-port"
    error_message = "the VIP is the endpoint and carries the floating IP"
  }
}

run "private_api" {
  command = apply

  variables {
    public = false
  }

  assert {
    condition     = length(openstack_networking_floatingip_v2.api) == 0 && output.public_address == null
    error_message = "no floating IP when public is false"
  }
}
