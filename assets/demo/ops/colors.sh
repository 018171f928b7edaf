# Sourced by the demo's scripts: SGR colours (the cockpit keeps them, every other escape is dropped).
esc=$(printf '\033')
reset="${esc}[0m"
bold="${esc}[1m"
dim="${esc}[2m"
red="${esc}[31m"
green="${esc}[32m"
yellow="${esc}[33m"
blue="${esc}[34m"
magenta="${esc}[35m"
cyan="${esc}[36m"
