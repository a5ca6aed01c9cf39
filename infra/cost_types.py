"""Which cloud resource types the cost estimate (infra/cost.py) treats as free by themselves."""

from __future__ import annotations

FREE_TYPES = frozenset({
    "gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork", "gcp:compute/firewall:Firewall",
    "gcp:compute/router:Router", "gcp:compute/sSLPolicy:SSLPolicy", "gcp:compute/managedSslCertificate:ManagedSslCertificate",
    "gcp:compute/targetHttpProxy:TargetHttpProxy", "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
    "gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey",
    "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy",
    "gcp:projects/iAMCustomRole:IAMCustomRole", "gcp:projects/iAMMember:IAMMember", "gcp:projects/service:Service",
    "gcp:serviceaccount/account:Account", "gcp:serviceaccount/iAMMember:IAMMember",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "aws:autoscaling/tag:Tag", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/route:Route",
    "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/subnet:Subnet", "aws:ec2/vpc:Vpc",
    "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter", "aws:eks/addon:Addon",
    "aws:elasticache/parameterGroup:ParameterGroup", "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:iam/policy:Policy", "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:rds/parameterGroup:ParameterGroup", "aws:rds/subnetGroup:SubnetGroup",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning", "aws:cloudfront/originAccessControl:OriginAccessControl",
})  # fmt: skip
"""Cloud resource types that cost nothing by themselves (their traffic is priced where it is
billed: NAT, load balancer, CDN). Kubernetes objects, providers and components are never priced
(their nodes and volumes are)."""
