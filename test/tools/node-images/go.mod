module devx.local/node-images

go 1.26
