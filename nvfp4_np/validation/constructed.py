"""Constructed inputs of the golden vectors: rows on which one plausible wrong rule (a
mutant of tests/mutants.py) changes a byte, for the rules that random inputs do not
reach (a float32 sum's order, an FMA, float32 instead of float64, a division instead of
a rounded reciprocal, the operation order of a block value, window edges, ADMM's
choices).

The rows were found by ``python tests/find_constructions.py --write`` (a seeded,
deterministic search against the slow reference of validation/SPEC.md) and are stored
here as float32 bit patterns, so generating the vectors needs no search. Each vector is
the anchor row (its amax ``ANCHOR`` fixes the tensor scale of every two-level recipe)
followed by the rows of its context.
"""

import numpy as np

from . import suites

#: amax of the whole input of every constructed vector: chosen so that the two-level
#: recipes' tensor scales fill their float32 mantissas (fl(7.7/2688), fl(1/fl(2688/7.7)),
#: fl(fl(1/7.7)*2688) end in 0, 2 and 0 zero bits), which makes q*s inexact.
ANCHOR = 7.7
K = suites.K


def anchor_row():
    """The first row: ANCHOR, then zeros."""
    row = np.zeros(K, np.float32)
    row[0] = ANCHOR
    return row


def hessian_blocks(block_size):
    """H_j of the constructed Hessian vectors: the hessian suite's exact H_j times 2^-14
    (exact), small enough against the clip SSE that the seed mode's fast-fail fires."""
    _, X = suites.hessian_case()
    return (suites.exact_hessians(X, block_size) * np.float32(2.0**-14)).astype(np.float32)


def admm_hessian(block_size):
    """Diagonal H_j of the constructed ADMM vectors (operators exact on every machine)."""
    return suites.diagonal_hessian(block_size, seed=7)


#: (method, recipe, block size) -> [(mutant it pins, rows as float32 hex words)].
ROWS = {
    ('admm-best', 'seed', 16): [
        ('admm-best-ties-to-admm', (
            ("36984085 371acf65 b6379cdf b52fb7dd 36b71415 b5ca42d5 34bf14a5 b650e41f "
             "b678004f 37734ab2 3669ddde 35c33a5f 36fdf708 b5a86d6b 359eccf0 b7834165 "
             "bf1a234e 3e51d866 3bf127e5 3f850147 3d6c3b91 3e0cf1b9 bd88ff11 3ed3a835 "
             "3dee9b39 be996ef9 3ea11842 3e125500 be48336d 3dfbd5bd be883815 3e698b76 "
             "bacd7f8a bbbccca9 3ada4573 3bc3839c 3c43e2e0 3a88f394 bb458207 bb06d9d7 "
             "bbb3e839 3ce47197 bcc73588 3bf8e5ee bbf3b769 3d035036 ba920513 3c900a84 "
             "beaf62f9 3ee71f9b 3db697c6 3f582716 bed7192f be9b201b bdcc713e 4002f803 "
             "4056c2b5 be4f2906 bfc8a937 3ff2a1f6 bf9d49a7 3fbebcf9 3ed5a2a9 3f7f3440"),
            ("b9d66efa ba01a3cb 3b0c5b30 3a094e1c b9a68813 bad3b21c b9aa6c31 ba8bbb77 "
             "bb725d75 b9fb3cc2 b972daa1 bb452d02 b92fda01 bb2c4b41 3b25d0a8 badcb340 "
             "3cf77563 bf2bfb96 bf8c2f33 bf8ab9c0 3ee3a317 3edc8368 3ebd0619 be592a6d "
             "bef0e858 3a4b7bba bef6e552 bf0386d6 3f4a2757 3fd08e50 3f12a28d 3f227748 "
             "bc11d5cc bb74e5fd bc4301b7 bc675c32 3b11d984 3c247d1c bb4ac4d6 3c5b923a "
             "bbc435bf 3c116b5e 3ce6c46a 3d7f81af 3c16f38c bb4a4f72 3bac9135 3bdfb787 "
             "3654ade5 b5bb117e 36a3d090 363d1197 36a9a07b 372dc6f1 3572ccbd b6e3aeea "
             "3681739f 3545dc0b 368df3ff b63edf4b b63d62da b6b2de62 b61bb29a b53c39a1"),
        )),
    ],
    ('admm-seed', 'seed', 16): [
        ('admm-returns-quants-scale', (
            ("bd78a246 bdd4489b 3e9191fa 3cab1fe0 3d631458 bdeb5180 bebd508e bca628a0 "
             "3daa7774 be79a596 3e453935 3ec9c7b4 3d837ec9 3cb941aa bcce0a38 be53bb97 "
             "3d876425 be4171d3 3dd1a4e2 3f05955d 3f2c1dc6 3e68ea58 3f8da76c 3f2ccc35 "
             "be354c1f 4026949d 3ebffd2c be9a2bb2 3e8423ca bed409e6 bdc2ee60 beb29885 "
             "370fe9c8 b5f22318 36fce0de 35c5089e b5b39a48 b5f926f5 b5742833 b7468a71 "
             "360ee26a 3631ab92 338ab2a6 b6de66d9 b5e6af5f 359f852f 3653b9f0 b5aa6fc0 "
             "b84ec25a 38881d48 37efd1ab 38d261c7 b8a615bb b82a1cae b85f0b3b b8bc0847 "
             "3889d9a0 362c7daa b7b0e7b2 b645649c b8dbe852 b8617158 b809f35b b6a39a00"),
        )),
    ],
    ('admm-seed', 'te', 16): [
        ('admm-weights-divide', (
            ("3fbce442 3e41999d 3e41999c 3e41999a bf215557 3ee1dde0 3f215552 3fa15553 "
             "3d811114 3d811114 3fa15558 3fa15556 bd811110 3e419998 3ee1dde0 3f61dddc "
             "3a69cab8 b93eaaad 38e4ccd1 ba3eaaae 39beaaa8 b93eaaa9 38e4ccd0 39beaaa9 "
             "393eaaaa b9beaaa9 38e4ccce b9857776 ba3eaaab ba3eaaad 38e4cccd b9beaaa8 "
             "36ddf518 80000001 00000002 80000002 80000001 80000003 00000002 00000003 "
             "80000000 00000001 00000001 80000001 00000001 00000002 00000002 00000002 "
             "381e03f7 b7244442 b76aaaa9 b7a44443 37244441 b6eaaaa8 376aaaaa 36eaaaa8 "
             "b5bbbbb9 b5bbbbbb 37eaaaad 37a44444 b76aaaad 368ccccc b76aaaac 368ccccd"),
            ("3bce0e80 3bafffff baf6666a 3bb00001 3aaffffe ba533333 baf66664 bbb00001 "
             "ba533336 3af66667 3b300001 b98ccccc baaffffe 3b76666a 398cccca bb766668 "
             "3788f883 00000002 80000002 00000002 80000002 80000002 00000000 00000001 "
             "00000001 00000003 80000003 00000001 80000001 80000003 00000003 00000000 "
             "371b0a7a 80000002 80000000 00000003 80000001 80000001 80000001 80000000 "
             "80000002 80000000 00000000 80000003 00000003 80000001 00000002 80000001 "
             "3faffe97 3d6aaaae 3f12aaaa bf4d5557 becd5555 3f12aaaa becd5559 3e92aaae "
             "becd5555 becd5554 be92aaab bd6aaaae bf92aaa9 3e92aaad 3e300000 3f12aaae"),
        )),
    ],
    ('admm-seed', 'torchao', 16): [
        ('admm-refit-unclamped', (
            ("b7ebaaf1 3a874ae8 b48f95d0 b9865b04 3926f0c9 baaf15a3 387809ad ba334278 "
             "3a192192 3906924f b9c8aa2a b926b0fd baae5650 b9a3eaff b980c891 b8a6cc34 "
             "4044c07a bee62165 bf4f36b6 bf4de6f3 bca5612d 400cf68f befa1cca 3fe48db1 "
             "bf810d9c 3d89e513 be1b1d16 3f084526 bffa68ea 3f5dd5cc bc9e4e93 bf09f83b "
             "395d4159 bd1003d0 3d7f6dde 3c448863 bc45349f bbd17400 bc40e026 bcd2db57 "
             "3c1e3291 3c352f94 3caf9b27 3c3aaba1 bc937b00 3c4ec86f bba331f2 3b9e62e1 "
             "36b772ab b6b0222e b5deb655 b60439c3 b6c1d62b b5bd141f 37402f68 3629ada4 "
             "b4f34e99 3713b4cd 36987c4e 36dae538 3655ddc8 b672e560 b6f855f4 3634f60d"),
            ("35a9ceac b40b7f30 3684ae2c 34d14abf 35409be8 b4a9ac72 b5865071 3708dcb9 "
             "b59bd93a b6a2b03a 35735b2d 35402125 b6cc9cbe b40da1d5 34a6f94c 356fdbc6 "
             "3b1dafbb 3a3dcec5 ba603ea5 ba02793c b91ac8d7 bbc4669f b9e39942 ba16eb96 "
             "ba437a19 baa96c20 b8a30e58 39a132cf b96d2ac4 b9b8b712 bac648bf 3a8528e3 "
             "be5e2453 3e3f2181 bddb05b3 3e864837 bd8c1788 3e427263 bea9b546 be934f8c "
             "3f0f989f 3ec305a5 3db5e952 be4dbe2e 3e177ff2 bdc2579d 3c2b1ef3 3ef08d0d "
             "37c0ea63 b8ef3482 b8165342 b7a31527 b7a32c9f b72f861b b5ceb299 b6666677 "
             "36ef6599 375f2249 37b2476f 37daf9c4 36731ffd b7c30ce6 b6041e09 37a735d8"),
        )),
    ],
    ('hessian-exact', 'seed', 16): [
        ('hessian-exact-float32', (
            ("3c96fa4a b955dbc3 3c9971e7 b9a0aabb bd7ef31e bd003036 bc1e1d70 bc3d4110 "
             "3c867174 bbcc09f2 3c2924ec 3bb6369b 3dacf85f bb00b166 3b9a1c51 bc3b5d69 "
             "bb6d6a29 bcb0ab92 bc472771 3afda9e6 3c5f3a27 3a92e0f1 3bb4aad7 bccec18d "
             "3c45cd20 bc73c7f0 3a989f93 3ac75a94 3ab11089 3b2d896a 3a9905fa 3b9469f2 "
             "3716880f 36264630 b7522c9d 372ad6ed b603e463 b4e82dc8 369ed962 36d35699 "
             "379a7a9a 366830c4 3802564d b6a55ae5 371bb974 b6dd1c4d 37ce3a69 b72fceda "
             "bc4e6d32 3bbb1c5b bc44e053 bbea642a bbd9f490 bbdaa7c6 3bc6064e 3d0f1198 "
             "b882e5e0 3ba84ce8 b9412b6d ba0107e2 39a3fde0 3d454b27 bc7736d6 3bdbec9a"),
            ("3c96fa4a b955dbc3 3c9971e7 b9a0aabb bd7ef31e bd003036 bc1e1d70 bc3d4110 "
             "3c867174 bbcc09f2 3c2924ec 3bb6369b 3dacf85f bb00b166 3b9a1c51 bc3b5d69 "
             "bb6d6a29 bcb0ab92 bc472771 3afda9e6 3c5f3a27 3a92e0f1 3bb4aad7 bccec18d "
             "3c45cd20 bc73c7f0 3a989f93 3ac75a94 3ab11089 3b2d896a 3a9905fb 3b9469f2 "
             "3716880f 36264630 b7522c9d 372ad6ed b603e463 b4e82dc8 369ed962 36d35699 "
             "379a7a9a 366830c4 3802564d b6a55ae5 371bb974 b6dd1c4d 37ce3a69 b72fceda "
             "bc4e6d32 3bbb1c5b bc44e053 bbea642a bbd9f490 bbdaa7c6 3bc6064e 3d0f1198 "
             "b882e5e0 3ba84ce8 b9412b6d ba0107e2 39a3fde0 3d454b27 bc7736d6 3bdbec9a"),
        )),
    ],
    ('hessian-exact', 'te', 32): [
        ('hessian-exact-float32', (
            ("39999794 ba15425f b780dcc5 39c32c21 39a895ab b9492a57 b926ed08 b89606dc "
             "3a267f1e b8b5d89d 389bd4d2 b8062e8f 38ac483f b9dcb372 b939ddd1 3826ccfb "
             "38222fb1 388f3288 378657da b8f78c0a 39dfa692 3a163472 380286a0 3935dd01 "
             "b8004ef3 b820c134 b92a1993 b8077fb3 3794f60b 393afce0 b81e0fc3 b8a8e74f "
             "3bb2875b b7a48e05 3a47679e 3a6f51d1 3a35f1d9 bb66a6fd 37d6d194 3a52a20f "
             "ba6105a6 3ac4acdd ba472037 ba440a6c 3b536f12 bb25eb5f bb03a1ed 3b694c1f "
             "bb2b4be7 39f5d213 ba2a31fc ba1dbd85 3a5dc711 bb5e3dca 3ac45475 bb1fc1c4 "
             "baaf6f90 ba46e2f6 3b47320f baf19ce8 3a8e9860 b8750fb0 39a45c9b 3a0c606c"),
            ("3d1f86b4 bd27ea84 bcd9e84e bcd324f8 bba8099d 3cfb01ab bdb9c93e bc906b47 "
             "bc59da36 ba71ade1 3c8481c5 bcbd54d2 3c3dbb7b 3af1bdd4 bdca611b 3ac14ead "
             "3d832424 bc8f31cd 3d6a03f1 3cbeef9b be13b7d0 3d2bb4d7 3c6e58e0 3a8dc0c7 "
             "3ca79c28 3cad5cb3 bd3557d8 bc427e69 3d264381 3d849bcc 3d165147 3b891434 "
             "33e0e9b8 b6007e8f b4cea071 352468fb b6265651 34c000ad 353f258b 3512c602 "
             "b49ff396 36163951 b4ce0cdf 33950920 34e65f2f b56c16a6 b23895d2 34abcc35 "
             "b50378ed b6608322 34ceb0b9 b58ed535 b471d58d 348a0b8e b57e6b9d b52f6e17 "
             "b284fca8 b4e1dc3c 36aa01e5 b52567e1 353e2ec8 359b8972 34f2c70e 3538f72c"),
        )),
    ],
    ('hessian-seed', 'seed', 16): [
        ('prefix-sums-float32', (
            ("504ac8f7 cfa40b77 cf92c820 d1306860 d0a2bb15 51651ec4 4f9f6fdb cf6f9480 "
             "d0e2d6aa cf9641f2 51bc4ab2 4fe7bca5 cecbe129 d0370dc7 d038a259 4f336263 "
             "4febeead 4ed5754a cf8f29f0 d17ee59c d0d98580 4dad5704 4fd839e5 50893a10 "
             "cf0bd314 d09f1991 4f183cb0 4fb73331 cf42166b 4ea1bdd5 5112f914 4f3b8e7b "
             "cec6186e cef09fd1 ce0369e9 d08d1f24 4f25d9df 507003dc 50687a51 cfd4b98a "
             "4e15e801 50245ca2 4fc82cb4 501026d9 50122859 d1adaf59 cfa495d9 d10dc94c "
             "5030cda3 cfc92627 d0653799 5149b5aa cfc2bbaf 4e484232 ce31321e 5005bd36 "
             "4fd608b1 ce2136cf 5126eec3 5172ba00 d0ee9ba0 d082d1c9 5187e451 cfa1e1f1"),
        )),
        ('window-lower-exclusive', (
            ("3acd791f 3bbcec80 bb269326 3c9ac55f 3b532a08 3b5143f1 3c3f8024 ba8fbefc "
             "bad35c0c 3c9a2051 badd0637 3c70841e 3c9f3560 39030d65 3bd37d1e ba883191 "
             "36a71e61 35bd7370 369496af b777b2bb 363a9a7b 3512b190 b6752a37 3698c544 "
             "36c7b709 350456cc 35df3b82 3571b1cb 3532060f 34d66831 b746b1bf 358e46f9 "
             "331b78b3 3633f9c6 360fb701 35675c69 3609d84c b5d5a272 360929a4 36585b37 "
             "b4a58492 b4a05e3b b595daf9 3539eca2 371e7e34 35ad6480 36b967b1 35cd621e "
             "bf59c88f be54aec8 bdcdd3d7 bd80be27 bbccadef bdfe508a 3dc59d1b 3eb1a6f8 "
             "3c6d7a62 bde52664 bdf00537 3d53f37b 3e82d625 3e65d1c3 3b0b2e5c bd1ccd40"),
        )),
        ('window-upper-exclusive', (
            ("3c200000 3de00000 3c400000 bd200000 3bd00000 3bb00000 bba00000 bd200000 "
             "3ba00000 bd900000 bda00000 3c100000 bbc00000 3c600000 bcf00000 bdf00000 "
             "3f500000 bed00000 40600000 c0400000 40900000 3f000000 40900000 3fe00000 "
             "bfe00000 3fd00000 3f800000 3ee00000 c0200000 3e500000 bfc00000 beb00000 "
             "3cf00000 3dd00000 bd400000 bcb00000 3d800000 3dc00000 3ce00000 3c300000 "
             "bd900000 bc300000 bd200000 3bf00000 bba00000 bdd00000 bce00000 3cf00000 "
             "3bb00000 bba00000 3cc00000 bdd00000 bdc00000 3bc00000 3d500000 3cc00000 "
             "bbd00000 3c400000 3d500000 3d900000 3d200000 3da00000 3bc00000 3c800000"),
            ("bf700000 bf900000 3db00000 3e900000 bf200000 3e200000 3ea00000 3f000000 "
             "be600000 3f400000 3f600000 bfb00000 3e500000 3fd00000 be100000 bf900000 "
             "be600000 bd800000 3d300000 bc300000 3d600000 3c100000 3d000000 3d200000 "
             "3c400000 bc800000 bc100000 bd000000 be200000 3da00000 3d800000 3c100000 "
             "bd200000 bd200000 bca00000 3e600000 3c400000 3e000000 3ce00000 bde00000 "
             "3d700000 bce00000 bd600000 bd800000 bd900000 3c200000 be600000 bd800000 "
             "be500000 40600000 bf800000 bed00000 3f900000 3eb00000 3ec00000 bfa00000 "
             "be900000 bfd00000 3e400000 be700000 c0000000 3f200000 3e500000 3e200000"),
        )),
        ('matvec-fma', (
            ("bd903f1b 3d314f2e bca9877b bd4f424d 3c543310 3dc28134 bd310dd7 bd2c5782 "
             "3d338755 bbe15751 3b8bbf6b bcf49ed3 3d1f1ada bb8c4a77 3e05abcc 3d3e66d1 "
             "39478ad4 bc8c48b0 3aad2484 bc12515a bbd568ca 3b7a22bd 3a7193ad 3a941ab5 "
             "399e1a40 3c0b180f 3b2bb4d7 b9c9d253 3c291760 3a70cda8 bc714f02 bb18a9c7 "
             "b91c224e 398b0cde bb59d6fc 3b1249cd 39b07034 b83672cc 3a191098 bb06f4a8 "
             "b9a93be3 3a4386f5 b9625c56 bb6fb336 b922b5ab bab8fc73 3a3da15c baf3764f "
             "3a9b9e5f b8919663 38844cc6 b9e95db4 39eec4e0 39cbe6cb b90f3dc1 b9afaa37 "
             "39f07ade 37fc921d b903247c ba257fb0 b82f9dea b808b8d0 3a3721b4 b85a3256"),
            ("bd903f1b 3d314f2e bca9877b bd4f424d 3c543310 3dc28134 bd310dd7 bd2c5782 "
             "3d338755 bbe15751 3b8bbf6b bcf49ed3 3d1f1ada bb8c4a77 3e05abcc 3d3e66d1 "
             "39478ad5 bc8c48b0 3aad2484 bc12515a bbd568ca 3b7a22bd 3a7193ad 3a941ab5 "
             "399e1a40 3c0b180f 3b2bb4d7 b9c9d253 3c291760 3a70cda8 bc714f02 bb18a9c7 "
             "b91c224e 398b0cde bb59d6fc 3b1249cd 39b07034 b83672cc 3a191098 bb06f4a8 "
             "b9a93be3 3a4386f5 b9625c56 bb6fb336 b922b5ab bab8fc73 3a3da15c baf3764f "
             "3a9b9e5f b8919663 38844cc6 b9e95db4 39eec4e0 39cbe6cb b90f3dc1 b9afaa37 "
             "39f07ade 37fc921d b903247c ba257fb0 b82f9dea b808b8d0 3a3721b4 b85a3256"),
        )),
        ('matvec-float64', (
            ("3c6cb423 3d42b7e1 bc4cf3ac bdb3f4f7 3c26ab9f bba46ba4 bc9af40b 3d164ecc "
             "3cdf8e98 3bdb2b81 3c61a61e bc0eb089 3cdd2cd9 3c218de4 bd939895 bc2cc1cb "
             "b80da745 b9314d8f 3870e0ee b9640702 396a69ec 3974903b b914c7a1 378229fb "
             "3a531fae b7e4caad 39e26675 ba03834a 39baed50 b8b1f31c b96071be b9fa52a5 "
             "bf160509 bc68955a bce0f9a7 3e7baae2 3eb56597 bf5192e8 3e256bfe bea6f45a "
             "ba6a00c1 3e7c86b4 be9cff3e 3f2c11c1 3e8c789b 3d351ef6 bd3ee703 3f46ce6f "
             "3c35c6e2 3c95d674 3dd3e83c bdf43764 3cbd1684 bced30d6 3cf9273f bcb5b354 "
             "3cdf2fc4 3d3a4cdc bdd4889b 3cea8b86 bd5dbb30 3d327b49 3d8a462f bcf3a187"),
            ("3c6cb423 3d42b7e1 bc4cf3ac bdb3f4f7 3c26ab9f bba46ba4 bc9af40b 3d164ecc "
             "3cdf8e98 3bdb2b81 3c61a61e bc0eb089 3cdd2cd9 3c218de4 bd939895 bc2cc1cb "
             "b80da745 b9314d8f 3870e0ee b9640702 396a69ec 3974903b b914c7a1 378229fb "
             "3a531fae b7e4caad 39e26675 ba03834a 39baed50 b8b1f31c b96071be b9fa52a5 "
             "bf160509 bc68955a bce0f9a7 3e7baae2 3eb56597 bf5192e8 3e256bfe bea6f45a "
             "ba6a00c1 3e7c86b4 be9cff3e 3f2c11c1 3e8c789b 3d351ef6 bd3ee703 3f46ce6f "
             "3c35c6e6 3c95d674 3dd3e83c bdf43764 3cbd1684 bced30d6 3cf9273f bcb5b354 "
             "3cdf2fc4 3d3a4cdc bdd4889b 3cea8b86 bd5dbb30 3d327b49 3d8a462f bcf3a187"),
        )),
        ('hessian-no-fast-fail', (
            ("3602806e b637598a b72fbc56 b6345ff5 b49a7489 b5f057e6 b649fb1e 36703b36 "
             "b5551d50 368aa708 35cfec30 35a251bc b5d0f6e8 3581a525 b45f60ad b52fd102 "
             "b5489aa4 b5a81844 b5dbb47f 36374c98 34427953 35fd1d3c b5b031ec b5da6562 "
             "b552fb10 b58b249c 3589bf72 b41f1e3e b63c3526 b6f0dffb b5d9627f 3583bcc7 "
             "befab4ae 3dd29458 c05392cd 3f5b7eb0 3ed9244f 3ea6b26f bf9133f2 bddded8c "
             "bec42ede 3f8ffae5 3f313a3d 3d09a4fc 3f17f2e9 bf78bc8f bfb36507 3fb021d4 "
             "3c4a6b86 3c53c9ee 3bd42bac 3c4c288e 3bb100cc 3b8f9beb 3c3da6d7 3d40b6cf "
             "3b88a914 3a8bd95a bc12e080 badbe6ef 3c07166a 3c4ca132 bbfdebc2 3c4641b8"),
            ("bebc6d27 3f06ebfa 3f3996fa 3e9d46f6 c0940481 bf9d6466 bf94436a 3f760cac "
             "3ec9fbea 3f8e01f2 bf3ae065 bf2c78b1 4080c98c 3e2bb8f3 bec31a67 bfc44d1b "
             "b793fdc3 34da3c04 b6917cf2 b6b8b638 36bb769a 362cf37e 36db4edf 3725d1c6 "
             "36aa03d1 36ff8f5c b742edb6 36e36124 b54f1592 b3800f12 35d0b05b b38945f5 "
             "bba65c36 3de7a063 bd893823 bea0add7 3e50562f 3e1d1fac 3e467581 3acbafb3 "
             "3e2887d8 3e97ce76 3e89efd5 bed100ac 3eadfd6a bda5aee0 3e65977d 3d9b9c38 "
             "ba35ed58 3886ba92 3adf6273 38352106 b8a1ece7 babfc702 3a27209b 3a2348cf "
             "ba203e89 3a8c723e b89c0452 ba0006e6 37a1f30b 3a78c7d8 ba3af41f b939f33b"),
        )),
        ('noise-rule-2-missing', (
            ("d1fa63dc 50f625e7 519d0894 d13c7dff 4f8eb45c 510d5e18 517de101 d0ff3b70 "
             "d20e652e d0af70f6 d136fcc5 d08b9c68 d14eeaef d0048fd6 51b86d62 4f000f69 "
             "5119c56b d003084c d105381e d1b45d67 50e68f09 508113a1 4f17bba5 d1615a75 "
             "5123841b d174ccf8 5175c5c1 5263056b d14ab5f7 d1053cd6 510c5afe 4f5344ce "
             "4fd0dbaf cfc56168 51937279 cfeb4fd2 4ea29b72 50af312a 4f7e2d28 d1821c7f "
             "50ce4069 d1c0ee7c d0fc01c0 51676ed0 4f1d5cec 5165b3ba 51b96829 519e378b "
             "d0e65c63 4ffa4cff d0749e4b cfa7ea60 50ccdd1e cfce34d1 d0d20c62 d22b959b "
             "513e80b2 50eb2e83 50d6b733 d0de0a5e d017bc2f 50cd86ff 5185b08f 51430aeb"),
            ("d18097eb d1102642 d18b1793 d1e8490f 505e10a3 d1abea9c cfc621c0 51465bf0 "
             "5102d631 d142e6bc 4fe4bd04 cdf06a21 4ea7d343 50db485d d00ae39a d2208b58 "
             "cef99d6b ceb93130 d08131a0 d1375a91 50a60560 d06301f9 ceee2abd d1317360 "
             "cfb7e567 d1f830b5 50606c09 cdd108f9 50da31b1 d0e49f73 4f14dee6 4ebcb353 "
             "d00e1bd7 5060187f 510e098a 5031c2b2 50452752 50d3f9e3 cfc932a4 d180ac9f "
             "50d44148 d1e474bd d0046749 5080a4a9 d15c2eb1 d11c3332 d187a5b3 cf4bfdd6 "
             "4fe54a80 d0baf3f3 cf394d29 d1402485 d1a4d698 5015db2e 4fa2e834 506a4c41 "
             "4fdaaac2 5093b133 d1c730e7 4fcff29e 51181ec3 cee018ce 501174be 508cb3f2"),
        )),
    ],
    ('naive', 'compressed-tensors', 16): [
        ('ct-element-multiply', (
            ("3dbd80d8 bb811113 3b811112 3d215558 3da15552 bb811114 bda15557 3da15554 "
             "bca15554 3b811112 3b811114 bd61dddb bb811111 bd215552 bca15554 bca15556 "
             "3b6f6b76 bacd5553 b9f66663 3b0fbbbc 3a8fbbbe 3a8fbbbd ba8fbbbf b9244444 "
             "b9244443 b9f66668 39f66664 ba8fbbbc b9f66665 bb4d5554 3b0fbbba ba8fbbbb "
             "3e0c8050 bceaaaad 3d244444 bdeaaaab bbbbbbb9 3bbbbbb9 3ceaaaab bda44444 "
             "3d6aaaae bceaaaad 3d244441 3c8ccccb 3c8ccccf 3da44447 3d6aaaab bceaaaaa "
             "38ad82dd 38244447 386aaaad b76aaaab 38244442 b63bbbbb b7eaaaab b8244444 "
             "386aaaaa b63bbbbe 376aaaab 376aaaaa 37eaaaae 37a44445 38244443 b86aaaa8"),
            ("3f4e2a58 3d0cccce 3d0cccce be76666a be300002 3e766664 3eaffffe bd0cccca "
             "be2ffffd bf2ffffe 3dd33332 3e76666a bef66666 3e300001 3e766667 be76666a "
             "3d8be062 3ceaaaaa 3ceaaaaa bc6aaaa8 bc0ccccb 3ceaaaa8 3ca44446 3c6aaaa8 "
             "bc0ccccd bd244445 bca44443 3c6aaaaa bca44446 bceaaaad 3d6aaaac 3ceaaaa9 "
             "37f31d34 368cccce b5bbbbbb b76aaaae b76aaaae 35bbbbba b7eaaaa9 37a44447 "
             "b6eaaaab 37a44443 37244442 b6eaaaae b7eaaaac 36eaaaa9 36eaaaa8 b7a44447 "
             "3ec37435 be61dde0 3d419999 bda15553 bea15557 3d41999b 3e215558 be61dddf "
             "be61dde1 bda15556 3d41999a 3d41999d be61dddf 3da15557 bea15554 bda15555"),
        )),
    ],
    ('naive', 'modelopt', 16): [
        ('modelopt-element-multiply', (
            ("3d8cda01 bd244445 bca44443 3c0cccce 3c6aaaa7 bd6aaaac 3c0cccc9 3ca44442 "
             "bca44446 3d244446 3c6aaaad bb3bbbb8 3ca44447 bc6aaaaa 3d6aaaa7 3c6aaaa7 "
             "38c023be b8300002 b8b00001 37533334 b8300000 b68ccccd 37b00000 382ffffe "
             "b68ccccc b8300002 37533333 37affffd b7533330 b8300000 37533335 b7b00001 "
             "40644a4f 3ee4cccb bee4ccc9 403eaaa8 3f3eaaac bf857775 3f3eaaac bee4cccd "
             "bee4cccb 3f857779 3ee4cccd bfbeaaaa 3f857775 bf3eaaaa c0057775 c03eaaa8 "
             "3aeed5ca ba0fbbba b8a44441 38a44447 3a0fbbbc 3a8fbbbc b9cd5553 3acd5556 "
             "b9766666 b8a44442 ba4d5557 39cd5557 38a44443 b9cd5555 39cd5552 3a0fbbbf"),
            ("37cee87d b76aaaa8 36eaaaa8 b7eaaaa7 37eaaaad b7eaaaac 37244443 b7244441 "
             "b7a44447 36eaaaa8 37eaaaa7 37a44447 37244442 368cccce b76aaaab b7eaaaaa "
             "3f7425b8 bdf66669 3d244444 3ecd5555 be4d5553 3f0fbbbf 3e4d5553 3df66669 "
             "be8fbbb9 bf0fbbbd be8fbbbf becd5556 3df66665 be8fbbbe 3df66667 becd5555 "
             "3e3b5d2b bda15553 bda15552 3da15555 bd61ddde bd61dde1 3de1dde0 3cc1999a "
             "3e215557 bd215555 bd215554 bc01110e 3cc1999c bc011114 bcc19999 3d215558 "
             "3b6f7bd2 3b4d5557 3b4d5554 3a4d5558 39f66669 ba4d5558 bb0fbbb9 bacd5556 "
             "bb4d5555 3b4d5557 3acd5557 ba4d5553 b9244447 ba8fbbbc bb0fbbb9 bacd5553"),
        )),
    ],
    ('naive', 'te', 16): [
        ('te-divide', (
            ("37c0c73d 376aaaae b7eaaaae b7244447 36eaaaaa b5bbbbba b5bbbbbb b6eaaaa8 "
             "b76aaaaa 37a44447 36eaaaa9 37244446 b76aaaa9 36eaaaad 37a44441 368ccccc "
             "3b61ed67 3a3eaaad bb057775 bb057778 bb05777b 39188886 3a857779 b918888c "
             "b9e4ccce 39e4ccd0 3b3eaaad ba3eaaae ba3eaaa9 bb05777a 39e4cccf ba3eaaad "
             "399397be b86aaaad 39244445 380ccccc 386aaaae b8a44442 396aaaad b8eaaaac "
             "b8a44441 386aaaa8 b73bbbbe 396aaaad b8eaaaaa 38eaaaac 38a44441 373bbbbb "
             "3bbde52d ba41999d bae1ddde bae1ddde 3ba15557 3b61ddde bb61dddf 39811112 "
             "bb61ddde 3b61dde0 bb215556 bb215557 bae1dddb 3aa15557 3ae1dddd 3b61dddb"),
            ("3dfd4e2d 3ccd5555 bd8fbbba 3d8fbbbc bdcd5553 bd0fbbb9 bccd5556 3c766667 "
             "3dcd5555 3d4d5554 bd0fbbbd bdcd5556 3d4d5552 bd8fbbbb 3d4d5553 bc766669 "
             "39c56a16 39215557 b9a15554 b961ddde b961dddd 37811112 38e1dde0 b8e1ddde "
             "3961dde0 b8a15552 b9215556 b9215554 b8e1ddde b8e1dddb 3961dddc b9a15557 "
             "38241f7c 376aaaac b7244441 b6eaaaa8 37a44445 b6eaaaad 36eaaaa9 36eaaaa8 "
             "b6eaaaae 37a44444 b6eaaaab 368cccce b7244446 b68cccd0 b7a44444 b68cccd0 "
             "3f3293ee bf12aaaa becd5559 bdb00001 becd5553 3db00001 3e92aaad bdaffffe "
             "bdaffffe becd5553 be12aaa9 bf12aaa8 bdb00000 3ceaaaad 3ecd5558 bceaaaab"),
        )),
        ('te-block-value-order', (
            ("3aca6669 39d8fee9 baa189bd b9e60c13 39d290d3 bac1544b 39b69dcc ba2999de "
             "39c9b39d b9073249 3985d747 3ac86044 38b1a6c7 39db0757 b9a7b8fd 3a5ae7f6 "
             "3a15999a 3a141aa0 3970624f b8ac8b58 38090fee b85f58a2 38727878 b87dbd3c "
             "b9134744 b6ac21b4 3888a29d b92ec0e7 b9bda5f1 b8d48f78 38e0d85f 3925519c "
             "3cff3332 3cfca5e2 3a9d33e7 3bdfd926 3ae746ff 3bf9435a 3cc547cb 3abb8e92 "
             "3b5e7fdd bc034c8d 3a7648a8 3b653922 3aebd8f0 3a87cd1a bbf01159 bb631ee1 "
             "3f15999f be638263 be91434d bd9126fc bdc15edd bd81389d 3e4d69d3 beed7dbd "
             "bf141aa5 3d97228e 3ea4842c bc6fc0c7 be348858 3e0e943e 3e462dae 3cf9a7ab"),
            ("3cca6665 bcc86040 3b9767dd 3aa220d5 bbc07136 3c14b0b1 bb0c6b82 bc062f47 "
             "bb8d8906 3c0218bb bc5bc9ab bb76134f bb6c8186 bc3170b2 bc95faff baae6d37 "
             "3eb8ccd0 3dfa63bf bc4821c7 3e0b2f3b 3c84d5ff bcf76d3e bd94b24a 3e9763e1 "
             "be1ccbe1 bd203683 3d7c38e5 3c21523b be03b8d0 3eb6f3ba be9ff88a bdc89b8e "
             "3eff3330 bd9123fc 3b17fd6f bb728dcd bcce14b4 3cf84e37 be33b0a9 3d4f855e "
             "3efca5e0 bb955f81 be866a60 bd275fb6 3c84eda5 bd51706f bdbe6167 3c376cfc "
             "3db8cccd 3cbe3bff 3b921f71 bdb6f3b7 bc839ddc bcf19a6c bd37d330 3cf394bf "
             "bbae9766 3d689c2d bc7ac654 3a9304f0 bc6d0666 3c2753c1 bbe77e80 bbec6e13"),
        )),
    ],
    ('naive', 'torchao', 16): [
        ('torchao-block-value-order', (
            ("3ab8ccc7 b9a746ee ba13a673 3996dde0 39186554 b91fda72 ba90a624 b7236c71 "
             "b9799675 ba3a2fa1 3a0ab957 ba5c720c bab6f3b1 b9be4196 b94269c1 b7200976 "
             "39ca6663 b98eb6a3 39092557 39bcd3e7 b93dc7a6 b85e52f4 39089788 b9c8603e "
             "b617df5f b8ddd2b6 b88163a8 b8a1366e 392a1f79 b700e7d6 b8a3044a 3849ab8f "
             "3c959999 3be472f3 3a8efbd5 3b6437a2 bb6dbd51 bbd20311 3b459eb8 3a17d6c4 "
             "bc523570 b9457a15 bbb0f20e bc941a9f bc717001 ba842a18 ba04166c 3aff6c75 "
             "3ca73332 3b5b2a9f bb3bf732 bb367a3b bb16285a 3c2debe7 ba52a85b bb5c738d "
             "399f9eb8 3b7a4916 bca5872a 3bf93132 b90ae59e 3b46907c 3bf604ff 3b5636e4"),
            ("3c273332 ba08624e baacdd92 b8a0c7af 39b38139 3989988c ba9eb42f bb1bd92b "
             "3ac14a41 bc25872a 3a2df736 37dff6a9 3af58dce ba05bba9 3b26fc29 b9c6b898 "
             "3e5bfffe 3c1a59b4 bc60c353 3d044d04 bcc04101 bd0d6f26 bdad87f2 3c04b5ad "
             "bd30191a bb752724 bd02aa58 3e59cccb 3d310a44 bc775e52 bc03f656 bd38004c "
             "3aed9994 b92274db baeb3953 3993fc55 b8aee712 39b85371 b7f632ab b95882ab "
             "b96d454d b9a50653 b8eb0b37 3962ee78 b92ce060 b891ecce 397ee0c2 399f0af4 "
             "3db8ccca 3b07d877 bb6d9aae 3c337b88 bdb6f3b4 3c517a0d bd14c9f0 3d4a78a2 "
             "3c841d86 3cff0469 3d1536b0 3c8c9253 bc24aeb5 bc19d2e8 bcd58545 3bd3dfbb"),
        )),
    ],
    ('optimal', 'modelopt', 32): [
        ('lane-sum-sequential', (
            ("b9c7e06f 39294bc8 37c8c4dc b9267d73 3a87aeb4 b8863ba8 b8efc9b3 ba19d0cb "
             "b913086e b954a479 b8521b5c b79a7670 3963232d 3a0a4a81 b8fc046d b8d37224 "
             "b84a2540 b816cf61 380e8d99 b8cb8fd8 b9979b3b b8384853 ba59caed 37d44614 "
             "3826f4e7 38cada0d b939aed0 b9636317 38b19b08 b67e687d 398e0223 b958fae3 "
             "b83de948 38f56d20 b94bacac b8a38b21 b947e2c4 3964157b ba2ae489 b9871c4f "
             "b5a91792 3905b01c b8e91d45 3a07a7f9 389c5026 b8a5d3bc 387e1729 b88abde3 "
             "b8c7189e b5eaa7e6 b9f45896 3a16e93e 38bbada5 b8d7652c b952a2f3 b8d7673b "
             "b71cc038 ba1744f6 38a1c91f b9217f85 38125c8b b92fbb87 b8ed67a7 b8f4e2e1"),
            ("b9c7e06f 39294bc8 37c8c4dc b9267d73 3a87aeb4 b8863ba8 b8efc9b3 ba19d0cb "
             "b913086e b954a479 b8521b5c b79a7670 3963232d 3a0a4a81 b8fc046d b8d37224 "
             "b84a2540 b816cf61 380e8d99 b8cb8fd8 b9979b3b b8384853 ba59caed 37d44614 "
             "3826f4e7 38cada0d b939aed0 b9636317 38b19b08 b67e687d 398e0223 b958fae3 "
             "b83de948 38f56d20 b94bacac b8a38b21 b947e2c4 3964157c ba2ae489 b9871c4f "
             "b5a91792 3905b01c b8e91d45 3a07a7f9 389c5026 b8a5d3bc 387e1729 b88abde3 "
             "b8c7189e b5eaa7e6 b9f45896 3a16e93e 38bbada5 b8d7652c b952a2f3 b8d7673b "
             "b71cc038 ba1744f6 38a1c91f b9217f85 38125c8b b92fbb87 b8ed67a7 b8f4e2e1"),
        )),
    ],
    ('optimal', 'seed', 16): [
        ('lane-sum-pairwise', (
            ("bc395542 bbdbbb50 bc5851cf b99949a7 3cc43f58 3d1b24c0 bc2930d6 3a55b900 "
             "3c3a0d08 3b14ba4d bb91b633 3ab934e3 3c284b96 3b171ce3 3c1081b3 3c64e78a "
             "b864e00d b84c177b 36f2b6e9 37c669f5 38975ce2 3751209a 3885f722 b6b37b5e "
             "382cb63b b732c20f b8d641db b7847ef2 38ec3ab1 37279977 374517ec 36d62d07 "
             "3d8c8546 bc171bf4 bd8faa41 3e01c190 bd85e316 3d4298dd 3db57adc bc3be02c "
             "bec6f538 3d838e90 bcfbb629 3df4b259 3df0b6b4 bc7d5af0 bd65b313 3d9c8301 "
             "3dd7e767 3dd1d22b 3f126795 be44c676 3f84cde8 bedbcd46 3f38b14d 3ce6e29c "
             "3f67c6ad be55d717 bd4af648 3eba226e bf735cc9 bed1e704 3e3e775b 3e811cf2"),
            ("3b7ae4c7 bb09d212 3b266e4d bd0a6493 bc3bdf02 3a48d538 3b199b66 3d07f079 "
             "b99109cf bc11c7a0 3a001cf8 bb6e997e 3b1c8c4f 3cd56d3e 3b0fbe11 3be4170e "
             "399414f9 b93f86d5 39655966 b9a417fc b973668c b948fd56 39536da3 3a1cafbd "
             "39d68b13 ba2d924c 3ab9b718 ba93b128 3a923b17 3a18352e 3b1edc0b 39e8ee2b "
             "42904262 430621e2 c0ec902d 427db070 40d674b6 c08d81ce 418bffba c215a140 "
             "c221956f 41d982a5 c1e3ecfa 41a4a951 c1ba8c54 42f91858 41c7c1ab 4107b7da "
             "c1772a6a c2368c2b c1cffc23 bfc0f40e 42740c43 c1a64ad3 42d79014 41c3b7b1 "
             "419ba65b c2997d03 42958ab5 4148a47e c1964b75 c21dd616 4258f23d c33dcf42"),
        )),
        ('lane-sum-sequential', (
            ("bd40598b bc913716 bd98d4df 3d5b514a 3d18b5ae 3e311da5 3c85c065 3caab3cd "
             "bd617518 3d928293 bd08a93f 3ccbfcdc 3dfa4657 bcb080ba bc1de63a 3cfcd641 "
             "3b665faa bc03f233 bc356dcf bc4677aa bb300f81 3cb0c8b9 3caa1a8e 3c70f1e0 "
             "bcf74290 3c0b22cc bcadc705 bbe58324 3afe5b0e 3c334df7 be0b5f96 3c69da02 "
             "41eb9c60 c285361f 429defc6 40a97caa c1fe14a5 422cf2bf c171fe1e 41693608 "
             "4042d39e c2155522 bffbfd07 c1168a23 c125057e 40c76614 c02a8dc2 422fd54b "
             "b8cb77d0 37835abf b6ac143c 33c85ff3 b7f9dacd 38286543 3483f7de b7a72fa4 "
             "36436913 36eb6e53 379a8d57 366757ac 37ee4280 b7c3bff2 b86fe81a 375f9a2e"),
            ("baa6939c ba440ea2 b9fb6816 b8f416ee bae7e1e5 3a342637 bb6c99e6 3a8cdcfc "
             "3a23372e b9dfc75c 3bc781dc bace162e 3a886120 3a3eaacf 39a90135 ba378ec8 "
             "bfdb0e99 c00a5e4d 4162e028 c1ab42b8 c10c9b0a 41bf5087 409e686d 3fb0bd4e "
             "c1e7f636 c1871f31 3f3601e1 bfe99916 3ffcf934 41093617 408a632e bff99054 "
             "3bf45938 be0a1375 3efb1060 3e598f54 bf44b0a4 3f0c49df 3e4b79fe bd993e86 "
             "3e7cd7b2 beaee918 3e78a8c8 3e53e301 3f0342d4 bf5f06ad 3de66cbb be574604 "
             "b8a1a744 b7849f6d 360cb9da 38abda35 b7ea87ba b7fba71c b7aac1b8 382df161 "
             "3902b4b4 3812cd86 37a4cdd2 b8238fd6 b7fbe2c4 b7167504 b73bd3c2 b59be73b"),
        )),
    ],
    ('optimal', 'te', 32): [
        ('lane-sum-pairwise', (
            ("bfc38bcd 3e64c50f bf8b0701 be9047f7 3ec16d1e bfbc4d86 3db7e2f8 bed6769d "
             "bfaff9bc 3cef87aa bfa01f96 3f029a13 3ea59b25 3f2de963 3e47c474 3eab41a9 "
             "3e45c960 3f34b11a becafcd9 bfb45423 3eb0ab88 beb30e9f 3ed59850 3e18b795 "
             "be051ad1 3ed60f58 3e4111b8 3d034c38 bf5bdbd2 3edd9fb2 bf2a43db bf31f1b6 "
             "b6d35c6d b6e4a348 b7868e4b 3731a7c2 37b9401f b7aaf63c 3528f069 b690f80e "
             "37274f09 b5840b1c b76ecf01 378ea7b5 36f7e610 372cd26c 37f27892 b593aa6a "
             "3707f815 b665b728 b7ad8f33 b70d6c74 35dc66ac b63cc63a 37346fc7 b6686268 "
             "37ab348c 35a84562 3721539a b5e968f4 b7bce9c9 375d200e 38592736 b6363f9d"),
            ("bfc38bcd 3e64c50f bf8b0701 be9047f7 3ec16d1f bfbc4d86 3db7e2f8 bed6769d "
             "bfaff9bc 3cef87aa bfa01f96 3f029a13 3ea59b25 3f2de963 3e47c474 3eab41a9 "
             "3e45c960 3f34b11a becafcd9 bfb45423 3eb0ab88 beb30e9f 3ed59850 3e18b795 "
             "be051ad1 3ed60f58 3e4111b8 3d034c38 bf5bdbd2 3edd9fb2 bf2a43db bf31f1b6 "
             "b6d35c6d b6e4a348 b7868e4b 3731a7c2 37b9401f b7aaf63c 3528f069 b690f80e "
             "37274f09 b5840b1c b76ecf01 378ea7b5 36f7e610 372cd26c 37f27892 b593aa6a "
             "3707f815 b665b728 b7ad8f33 b70d6c74 35dc66ac b63cc63a 37346fc7 b6686268 "
             "37ab348c 35a84562 3721539a b5e968f4 b7bce9c9 375d200e 38592736 b6363f9d"),
        )),
        ('residual-fma', (
            ("bba6585b b9750acb bb55449f 3b501853 ba9d0235 3b16137e 3b65bcf8 b9ffc1d7 "
             "b9734f6f 3c5f6404 ba414f49 bb60c0be bc09cb4c 39f31223 3befc073 3a63ef8f "
             "3ad94bc8 bc100593 3b74513c b9f9ed0f 3b8957cc bb0e95af 3b86ccf8 3ab8a79f "
             "3b54dc1e bb85624c bb0e5304 baddc25c 39e7eba8 3a9828b1 bb188ee8 bb9d5f96 "
             "396aab58 b8e9d99a b87a62bd ba4f86f4 b822928a 39ad4442 3924f3f9 3a3afcc3 "
             "3887f149 3583fa3b b9f6c8fd 39cb3798 ba5d36c9 b8135b67 39f284d7 baad7434 "
             "381c75fc 399a9248 b92ab0e0 39d79e2b bac84517 3a6b9cd3 ba730d91 b947229a "
             "3507da44 b9a37e06 b9376256 39df6c54 3a1f7103 3a0b7d42 3a58301c ba76bf2f"),
            ("bba6585b b9750acb bb55449f 3b501853 ba9d0235 3b16137e 3b65bcf9 b9ffc1d7 "
             "b9734f6f 3c5f6404 ba414f49 bb60c0be bc09cb4c 39f31223 3befc073 3a63ef8f "
             "3ad94bc8 bc100593 3b74513c b9f9ed0f 3b8957cc bb0e95af 3b86ccf8 3ab8a79f "
             "3b54dc1e bb85624c bb0e5304 baddc25c 39e7eba8 3a9828b1 bb188ee8 bb9d5f96 "
             "396aab58 b8e9d99a b87a62bd ba4f86f4 b822928a 39ad4442 3924f3f9 3a3afcc3 "
             "3887f149 3583fa3b b9f6c8fd 39cb3798 ba5d36c9 b8135b67 39f284d7 baad7434 "
             "381c75fc 399a9248 b92ab0e0 39d79e2b bac84517 3a6b9cd3 ba730d91 b947229a "
             "3507da44 b9a37e06 b9376256 39df6c54 3a1f7103 3a0b7d42 3a58301c ba76bf2f"),
        )),
    ],
    ('optimal', 'torchao', 16): [
        ('residual-fma', (
            ("39f2e189 b8fc7e7a 385c7bb7 b8eaf231 3833633c 375699f9 391d0a19 38ad7c25 "
             "b88f7767 b8af8c2e b6e3cee2 b6ee91a1 36c402a9 393ee102 39825c14 b89e7460 "
             "bc51954b bd246293 bd8800de 3b4d0c0f bcd6ccb0 3d2bf72e bc04aadc 3d1bbd45 "
             "3ceb9efe bba438c7 bafbb121 bca5aec5 3d04f1ff bd3273d9 3c2db6df bdb08d76 "
             "bc1aa113 ba5273f4 3d8ab07b bbc68b9f bf1fd060 3bbccb63 3d6ea564 3b7a4695 "
             "be8580d9 be407a71 bd84f1d4 3c97356b 3e1197a2 be1de43f 3d3b0caf 3e1014be "
             "bb8f4edc 3aebe24f 3afd7703 bb77ca5c 3bb1f827 bccd06e1 3b5b57f6 3be4536e "
             "3b096ee4 bbb778a2 38ada7a0 3af47076 39e0eee4 bb20eff9 3bd07278 bb48551a"),
            ("39f2e189 b8fc7e7a 385c7bb7 b8eaf231 3833633c 375699f9 391d0a19 38ad7c25 "
             "b88f7767 b8af8c2e b6e3cee2 b6ee91a1 36c402a9 393ee102 39825c14 b89e7460 "
             "bc51954b bd246293 bd8800de 3b4d0c0f bcd6ccb0 3d2bf72e bc04aadc 3d1bbd45 "
             "3ceb9efe bba438c7 bafbb121 bca5aec5 3d04f1ff bd3273d9 3c2db6df bdb08d76 "
             "bc1aa113 ba5273f4 3d8ab07b bbc68b9f bf1fd060 3bbccb63 3d6ea564 3b7a4695 "
             "be8580d9 be407a71 bd84f1d4 3c97356b 3e1197a2 be1de43f 3d3b0caf 3e1014be "
             "bb8f4edc 3aebe24f 3afd7703 bb77ca5c 3bb1f827 bccd06e1 3b5b57f6 3be4536e "
             "3b096ee5 bbb778a2 38ada7a0 3af47076 39e0eee4 bb20eff9 3bd07278 bb48551a"),
        )),
    ],
}


def rows(method, recipe, block_size):
    """The float32 rows of a context (without the anchor row)."""
    out = [np.array([int(w, 16) for w in r.split()], np.uint32).view(np.float32)
           for _, rs in ROWS.get((method, recipe, block_size), []) for r in rs]
    return np.stack(out) if out else np.zeros((0, K), np.float32)
