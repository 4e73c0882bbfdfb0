package api

func (s *Server) groupRoutes() {}
