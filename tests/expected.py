"""Expected grants, written out by hand so that a change to the policy builders shows up."""

DOMAIN_READ = [
    "codeartifact:GetAuthorizationToken",
    "codeartifact:DescribeDomain",
    "codeartifact:ListRepositoriesInDomain",
]
REPOSITORY_READ = [
    "codeartifact:ReadFromRepository",
    "codeartifact:GetRepositoryEndpoint",
    "codeartifact:DescribeRepository",
    "codeartifact:ListPackages",
    "codeartifact:DescribePackage",
    "codeartifact:ListPackageVersions",
    "codeartifact:DescribePackageVersion",
    "codeartifact:ListPackageVersionAssets",
    "codeartifact:GetPackageVersionAsset",
    "codeartifact:GetPackageVersionReadme",
    "codeartifact:ListPackageVersionDependencies",
]
