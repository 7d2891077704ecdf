# The machines, against mocks (no cloud).
mock_provider "openstack" {
  mock_data "openstack_images_image_v2" {
    defaults = {
      id = "11111111-2222-3333-4444-555555555555"
    }
  }
}

variables {
  name                  = "t"
  image                 = "Debian 12"
  ssh_user              = "debian"
  ssh_public_key        = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample t@example.com"
  control_plane_count   = 3
  worker_count          = 4
  control_plane_flavor  = "m1.medium"
  worker_flavor         = "m1.large"
  bastion_flavor        = "m1.small"
  root_volume_size      = 0
  cidr                  = "10.20.0.0/24"
  network_id            = "net"
  subnet_id             = "subnet"
  external_network_name = "public"
  security_groups = {
    bastion       = "sg-bastion"
    nodes         = "sg-nodes"
    control_plane = "sg-cp"
  }
}

# First, on the empty state: the nodes ignore later changes of their
# boot disk (lifecycle), so a plan after the apply below would show none.
run "boot_from_volume" {
  command = plan

  variables {
    root_volume_size = 40
  }

  assert {
    condition     = openstack_compute_instance_v2.node["t-worker-1"].block_device[0].volume_size == 40 && openstack_compute_instance_v2.node["t-worker-1"].block_device[0].boot_index == 0
    error_message = "root_volume_size boots from a volume of that size"
  }
}

run "spread_and_addressed" {
  command = apply

  assert {
    condition     = length(openstack_compute_instance_v2.node) == 7
    error_message = "3 control-plane nodes and 4 workers"
  }

  assert {
    condition     = openstack_compute_servergroup_v2.control_plane.policies == tolist(["anti-affinity"])
    error_message = "control-plane nodes (etcd members) must be on different hypervisors"
  }

  assert {
    condition = alltrue([for name, n in openstack_compute_instance_v2.node :
      one(n.scheduler_hints).group == (startswith(name, "t-cp-") ? openstack_compute_servergroup_v2.control_plane.id : openstack_compute_servergroup_v2.workers.id)
    ])
    error_message = "every node is in its role's server group"
  }

  assert {
    condition     = output.control_plane == { "t-cp-1" = "10.20.0.10", "t-cp-2" = "10.20.0.11", "t-cp-3" = "10.20.0.12" }
    error_message = "control-plane addresses: ${jsonencode(output.control_plane)}"
  }

  assert {
    condition     = output.workers["t-worker-4"] == "10.20.0.23"
    error_message = "worker addresses start at .20"
  }

  # Control-plane ports carry both groups, workers the nodes group only,
  # and nothing but the bastion gets a floating IP.
  assert {
    condition     = openstack_networking_port_v2.node["t-cp-1"].security_group_ids == toset(["sg-nodes", "sg-cp"]) && openstack_networking_port_v2.node["t-worker-1"].security_group_ids == toset(["sg-nodes"])
    error_message = "security groups by role"
  }

  assert {
    condition     = openstack_networking_floatingip_associate_v2.bastion.port_id == openstack_networking_port_v2.bastion.id
    error_message = "the bastion's floating IP is on the bastion"
  }

  assert {
    condition     = strcontains(openstack_compute_instance_v2.node["t-worker-2"].user_data, "hostname: t-worker-2") && strcontains(openstack_compute_instance_v2.node["t-worker-2"].user_data, "ssh_pwauth: false")
    error_message = "user data names the host and turns off password logins"
  }

  assert {
    condition     = openstack_compute_instance_v2.node["t-cp-1"].image_id == "11111111-2222-3333-4444-555555555555" && length(openstack_compute_instance_v2.node["t-cp-1"].block_device) == 0
    error_message = "root_volume_size 0 boots the image on the flavor's disk"
  }
}
