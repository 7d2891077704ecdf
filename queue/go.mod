module github.com/groundwork-dev/groundwork/queue

go 1.26.0

replace github.com/groundwork-dev/groundwork/migrator => ../migrator
