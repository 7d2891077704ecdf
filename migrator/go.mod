module github.com/groundwork-dev/groundwork/migrator

go 1.26
