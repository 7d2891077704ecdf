module github.com/groundwork-dev/groundwork

go 1.26

require github.com/magefile/mage v1.17.2 // indirect

tool github.com/magefile/mage
