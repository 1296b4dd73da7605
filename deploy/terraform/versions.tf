# The production stack of RealtyForYou on AWS, one root module per environment's state.
terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State lives in S3 with native locking; the bucket is made once, by hand, per account.
  backend "s3" {
    key          = "realty/production.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "realtyforyou"
      environment = var.environment
      managed-by  = "terraform"
    }
  }
}

# CloudFront's certificates and WAF web ACLs for CloudFront live in us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# The three zones by name: the subnets never move when AWS opens another zone.
data "aws_availability_zones" "available" {
  state = "available"
  filter {
    name   = "zone-name"
    values = var.availability_zones
  }
}

locals {
  name       = "realty-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = sort(data.aws_availability_zones.available.names)

  # Every process that runs in the cluster; each gets its own IAM role (IRSA) and image.
  services = ["identity", "listings", "scheduling", "media", "analytics", "gateway"]
  # Every image the repository builds: the processes and the Chime SDK emulator the dev
  # cluster runs (libs/chimesim), each with its own ECR repository.
  images = concat(local.services, ["chimesim"])
}
