# tflint's bundled terraform ruleset (no plugin download: `go tool mage
# infra:check` runs it offline). The recommended preset plus the rules
# HashiCorp's standard module structure asks for.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
