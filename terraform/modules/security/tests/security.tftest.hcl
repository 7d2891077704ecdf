# What the security groups open, checked against mocks (no cloud).
mock_provider "openstack" {}

variables {
  name        = "t"
  cidr        = "10.20.0.0/24"
  admin_cidrs = ["203.0.113.0/24", "198.51.100.7/32"]
}

run "only_what_the_cluster_needs" {
  command = apply

  assert {
    condition     = length(openstack_networking_secgroup_rule_v2.rule) == 11
    error_message = "expected 11 ingress rules (2 admin SSH + 9 cluster), got ${length(openstack_networking_secgroup_rule_v2.rule)}"
  }

  # The rules as configured (output.ingress_rules: the mock provider fills
  # attributes left unset with random values) and each rule resource in
  # the group its entry names.
  assert {
    condition = alltrue([for k, r in openstack_networking_secgroup_rule_v2.rule :
      r.direction == "ingress" && r.security_group_id == {
        bastion       = openstack_networking_secgroup_v2.bastion.id
        nodes         = openstack_networking_secgroup_v2.nodes.id
        control_plane = openstack_networking_secgroup_v2.control_plane.id
      }[output.ingress_rules[k].group]
    ])
    error_message = "a rule is not in the group its entry names"
  }

  # SSH from outside reaches the bastion only, from the admin CIDRs only.
  assert {
    condition = alltrue([for r in output.ingress_rules :
      r.group == "bastion" && contains(var.admin_cidrs, r.from_cidr)
      if r.from == 22 && r.from_cidr != null
    ])
    error_message = "SSH is open to an address range other than the admins', or on a node"
  }

  assert {
    condition     = openstack_networking_secgroup_rule_v2.rule["nodes-ssh"].remote_group_id == openstack_networking_secgroup_v2.bastion.id
    error_message = "the nodes take SSH from the bastion only"
  }

  # The API: 6443 on the control plane from the cluster subnet (the load
  # balancer and the nodes), nowhere else.
  assert {
    condition     = alltrue([for r in output.ingress_rules : r.group == "control_plane" && r.from_cidr == var.cidr if r.from == 6443])
    error_message = "6443 is open on something other than the control plane, or from outside the cluster subnet"
  }

  # kubelet, etcd, Calico, node-exporter: from the cluster's own groups only.
  assert {
    condition = alltrue([for r in output.ingress_rules :
      r.from_cidr == null && contains(["nodes", "control_plane"], r.from_group)
      if contains([10250, 2379, 4789, 5473, 9100], coalesce(r.from, 0))
    ])
    error_message = "kubelet, etcd, Calico or node-exporter is reachable from outside the cluster's groups"
  }

  assert {
    condition     = alltrue([for r in output.ingress_rules : r.from_cidr != "0.0.0.0/0"])
    error_message = "a rule is open to the whole internet"
  }

  assert {
    condition     = openstack_networking_secgroup_rule_v2.rule["control-plane-etcd"].remote_group_id == openstack_networking_secgroup_v2.control_plane.id && output.ingress_rules["control-plane-etcd"].to == 2380
    error_message = "etcd (2379-2380) is for the control plane's members only"
  }

  assert {
    condition     = output.ingress_rules["nodes-calico-vxlan"].protocol == "udp"
    error_message = "Calico's VXLAN is UDP"
  }
}
