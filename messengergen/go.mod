module github.com/groundwork-dev/groundwork/messengergen

go 1.26
