# The production environment against mocks (no cloud): its shape, the
# Ansible inventory it outputs, and the variables it refuses.
mock_provider "openstack" {
  mock_data "openstack_networking_network_v2" {
    defaults = {
      id   = "ext-net"
      name = "public"
    }
  }
  mock_data "openstack_images_image_v2" {
    defaults = {
      id = "11111111-2222-3333-4444-555555555555"
    }
  }
  mock_resource "openstack_lb_loadbalancer_v2" {
    defaults = {
      vip_address = "10.20.0.200"
      vip_port_id = "vip-port"
    }
  }
}

variables {
  image                = "Debian 12"
  ssh_public_key       = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample admin@example.com"
  admin_cidrs          = ["203.0.113.0/24"]
  external_network     = "public"
  control_plane_flavor = "m1.medium"
  worker_flavor        = "m1.large"
  bastion_flavor       = "m1.small"
}

# The inventory output is tests/inventory.json, which the Go test of
# `go tool mage infra:inventory` renders and parses with ansible-inventory:
# change both together.
run "inventory" {
  command = apply

  override_resource {
    target = module.nodes.openstack_networking_floatingip_v2.bastion
    values = {
      address = "198.51.100.10"
    }
  }

  override_resource {
    target = module.apilb.openstack_networking_floatingip_v2.api
    values = {
      address = "198.51.100.20"
    }
  }

  assert {
    condition     = jsonencode(output.inventory) == jsonencode(jsondecode(file("tests/inventory.json")))
    error_message = "the inventory output is not tests/inventory.json: ${jsonencode(output.inventory)}"
  }

  assert {
    condition     = length(output.inventory.control_plane) == 3 && length(output.inventory.workers) == 3
    error_message = "three control-plane nodes and three workers by default"
  }

  # The API is open to the admins and to the cluster subnet, nothing else.
  assert {
    condition     = module.apilb.address == "10.20.0.200" && output.inventory.api.endpoint == "10.20.0.200:6443"
    error_message = "the API endpoint is the load balancer's VIP"
  }

  assert {
    condition     = alltrue([for name, r in output.open_ports : contains(concat(var.admin_cidrs, [var.cidr]), r.from_cidr) if r.from_cidr != null])
    error_message = "a port is open to a range other than the admins' or the cluster subnet"
  }
}

run "even_control_plane" {
  command = plan
  variables {
    control_plane_count = 2
  }
  expect_failures = [var.control_plane_count]
}

run "too_few_workers" {
  command = plan
  variables {
    worker_count = 2
  }
  expect_failures = [var.worker_count]
}

run "ssh_from_anywhere" {
  command = plan
  variables {
    admin_cidrs = ["0.0.0.0/0"]
  }
  expect_failures = [var.admin_cidrs]
}

run "no_admins" {
  command = plan
  variables {
    admin_cidrs = []
  }
  expect_failures = [var.admin_cidrs]
}

run "subnet_in_the_pod_range" {
  command = plan
  variables {
    cidr = "10.244.3.0/24"
  }
  expect_failures = [var.cidr]
}

run "subnet_in_the_service_range" {
  command = plan
  variables {
    cidr = "10.100.0.0/24"
  }
  expect_failures = [var.cidr]
}

run "not_a_key" {
  command = plan
  variables {
    ssh_public_key = "-----BEGIN OPENSSH PRIVATE KEY-----"
  }
  expect_failures = [var.ssh_public_key]
}

run "bad_name" {
  command = plan
  variables {
    name = "Prod_Cluster"
  }
  expect_failures = [var.name]
}
